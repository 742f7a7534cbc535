"""The certified instance library (:mod:`mmot_models.bench.library`) and ``mmot bench``."""
from __future__ import annotations

from .library import (CERT_GAP_TOL, INSTANCES, Certificate, Instance, get_instance, instance_names,
                      load_certificate)
from .check import verify_instance

__all__ = ["INSTANCES", "Instance", "Certificate", "get_instance", "instance_names", "load_certificate",
           "verify_instance", "CERT_GAP_TOL"]
