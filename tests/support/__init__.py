"""What the end-to-end tests run against, shared by the live and browser tests and the runners
in scripts/ (test_stories.py, test_conversations.py).

- stack.py: `Stack`, a throw-away copy of the running assistant on free ports.
- handoff_play.py: both sides of the human handoff (the citizen over REST, the agent on the
  helpdesk database).
- fake_whatsapp.py: a fake WhatsApp Cloud API (signed deliveries in, a recording Graph API).
- makerun.py: `make run` for real, and the helpers that read what it prints and runs.
"""
