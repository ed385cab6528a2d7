"""Tickets: the ticket service and its ids, e-mail notification of new tickets."""
