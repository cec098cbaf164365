"""One router per API: ``images`` (OpenAI), ``a1111`` (txt2img), ``runs`` (jobs, events, cancel), ``files``."""
