"""PNG charts of a run (matplotlib, Agg backend): the roll-rate matrix as a heat map, the cure
curve by day, and contacts by the borrower's local hour against the playbook's peaks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["PEAKS", "write_charts"]

PEAKS = ((10.0, 11.5), (14.0, 16.5), (19.0, 21.0))
"""Right-party-contact peaks, PLAYBOOK.md section 6 (local hours)."""


def _heatmap(summary: dict[str, Any], path: Path) -> None:
    roll = summary["roll_rates"]
    statuses = roll["statuses"]
    rates = [[roll["rates"][r][c] for c in statuses] for r in statuses]
    fig, ax = plt.subplots(figsize=(7, 5.5))
    image = ax.imshow(rates, cmap="Reds", vmin=0, vmax=1)
    ax.set_xticks(range(len(statuses)), statuses, rotation=30)
    ax.set_yticks(range(len(statuses)), statuses)
    ax.set_xlabel("status at the next boundary")
    ax.set_ylabel("status at a month end (or run start)")
    for i, row in enumerate(statuses):
        for j, col in enumerate(statuses):
            n = roll["counts"][row][col]
            if n:
                ax.text(j, i, f"{rates[i][j]:.0%}\n({n})", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="roll rate")
    ax.set_title("Roll rates between month ends")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cure_curve(summary: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    arms = summary.get("arms") or {"portfolio": summary}
    for name, section in arms.items():
        curve = section["cure_curve"]
        label = f"{name} ({section.get('strategy', '')})".replace(" ()", "")
        ax.plot(range(len(curve)), [100 * x for x in curve], label=label)
    ax.set_xlabel("days since the account became delinquent")
    ax.set_ylabel("cured (% of delinquency spells)")
    ax.set_title("Cure curve")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _hours(summary: dict[str, Any], path: Path) -> None:
    hours = summary["contacts_by_hour"]
    fig, ax = plt.subplots(figsize=(8, 4))
    for start, end in PEAKS:
        ax.axvspan(start, end, color="green", alpha=0.15)
    ax.bar([int(h) + 0.5 for h in hours], list(hours.values()), width=0.8, color="steelblue")
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 2))
    ax.set_xlabel("borrower's local hour (green: the playbook's right-party-contact peaks)")
    ax.set_ylabel("contacts")
    ax.set_title("Contacts by hour")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_charts(summary: dict[str, Any], out: Path) -> list[Path]:
    paths = [out / "roll_rates.png", out / "cure_curve.png", out / "contacts_by_hour.png"]
    _heatmap(summary, paths[0])
    _cure_curve(summary, paths[1])
    _hours(summary, paths[2])
    return paths
