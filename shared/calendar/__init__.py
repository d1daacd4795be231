"""Calendar feeds: RFC 5545 views of due dates, subscribed to by calendar clients."""
