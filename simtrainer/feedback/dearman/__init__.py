"""The DEAR MAN coder: which interpersonal-effectiveness skills each trainee turn shows, with evidence."""
