"""The wallet dock, its dialogs and the withdraw flow."""
