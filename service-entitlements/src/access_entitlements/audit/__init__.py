"""The audit trail of rule changes, per tenant."""
