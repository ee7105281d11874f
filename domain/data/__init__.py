"""Policy data files (tariff, prohibited goods) shipped with the domain package."""
