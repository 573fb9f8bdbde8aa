"""Call quality: the reports rooms send, the live window per session, and the summaries
stored with a session when the call ends. Display data only: nothing here decides anything."""
