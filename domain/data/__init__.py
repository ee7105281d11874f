"""Policy data files shipped with the domain package: SLA policy, tariff, prohibited goods."""
