"""Everything a person sees. Widgets observe studio services; they do no I/O of their own."""
