"""Routing: new accounts and leads get an owner by the plan's rules (see router.py); what no rule
decides goes to the exceptions queue (store/routing.py)."""
