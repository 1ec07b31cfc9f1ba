"""Reading results after a run: `bench compare` tables, `bench report` HTML with plots."""
