"""bench/memory.py measures what it says: N AccountWorkflows and N bare workflows open in their
own worker processes, all still running, and the sizes of what an AccountWorkflow carries
(docs/benchmarks.md, issue 19). The figures themselves are never asserted: memory per workflow
at N = 3 is noise, and the machine is shared."""

from __future__ import annotations

from bench.memory import WARM_UP, measure


async def test_the_memory_bench_opens_every_workflow_and_sizes_what_one_carries() -> None:
    result = await measure(3, overdue=0, breakdown=False)
    account, bare, sizes = result["account"], result["bare"], result["sizes"]
    assert account["workflows"] == bare["workflows"] == 3
    # every AccountWorkflow started (the warm-ups too) is still open, asleep before its due date
    assert account["sampled_open"] == f"{WARM_UP + 3}/{WARM_UP + 3}"
    assert account["sampled_states"] == ["pre_due"]
    for process in (account, bare):
        assert process["rss_after_bytes"] > 0 and process["rss_before_bytes"] > 0
        assert isinstance(process["bytes_per_open_workflow"], int)
    # the continue-as-new input is sized at the start and after 120 unpaid days, by then in the
    # last stage (its 3 KB budget is tests/workflows/test_continue_as_new.py's to hold)
    start = sizes["continue_as_new_input_at_start"]
    late = sizes["continue_as_new_input_after_120_days_unpaid"]
    assert 0 < start["json"] < late["json"]
    assert (late["state"], late["stage"]) == ("delinquent", "hard_core")
    assert sizes["status"]["payload"] > sizes["status"]["json"]  # encrypted: sealed, not shorter
