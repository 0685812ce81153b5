"""Outbound channels to the borrower: SMS and voice through Twilio (or the sandbox gateway).

`sms.SmsChannel` and `voice.VoiceChannel` render the strategy's template (`templates`), send
exactly once per action (`exactly_once`) and say what happened as a DeliveryResult.
"""
