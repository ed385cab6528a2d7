"""WhatsApp broadcasts: a supervisor's approved template sent to an uploaded list of numbers.

- `recipients`: reading the CSV upload (pure);
- `service`: making, previewing, scheduling, pausing, cancelling, exporting a broadcast; the
  citizens' opt-out and opt-in;
- `whatsapp`: one message to the Cloud API and what its answer means;
- `sender`: the throttled, resumable sending, exactly once per recipient;
- `cli`: `helpdesk broadcast ...` for operators.
"""
