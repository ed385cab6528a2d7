"""The agent desk: a web app where helpdesk agents take over conversations from the bot.

`helpdesk.desk.app.create_app` builds it; `helpdesk desk serve` runs it (with the background
worker of `helpdesk.handoff.worker`). See `helpdesk.desk.auth` for sessions, roles and CSRF.
"""
