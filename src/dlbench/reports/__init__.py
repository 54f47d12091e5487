"""Result tables and reports, drawn from stored records only."""
