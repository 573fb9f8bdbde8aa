"""Server-side recording of relayed sessions: RTP -> frames -> WebM/Matroska, remux only."""
