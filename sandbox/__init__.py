"""The sandbox SMS/voice gateway: a local service speaking the subset of Twilio's REST API that
arrears uses, for when no Twilio credentials are set (`arrears sandbox`, started by `arrears up`).
"""
