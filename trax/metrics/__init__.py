"""What trax tells monitoring: health checks (``health``), served by ``manage.py trax_health``
and the health view."""
