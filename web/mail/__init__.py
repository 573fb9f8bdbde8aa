"""E-mail: message building (texts and ICS), the outbox sender, and the calendar feed."""
