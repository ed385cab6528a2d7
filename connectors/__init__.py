"""Custom Rasa input/output channels (e.g. `connectors.whatsapp.WhatsAppInput`)."""
