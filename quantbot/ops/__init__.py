"""Operations: the state lock, later the error taxonomy, breakers and retries."""
