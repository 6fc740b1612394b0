"""Admin: token auth, training jobs, model versions and library uploads.

The HTTP side lives in :mod:`radio.web.admin_routes`; these modules hold the domain
logic so that they can be tested without a server.
"""
