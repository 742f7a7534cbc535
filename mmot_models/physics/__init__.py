"""Physics around the transport problem, as data and closed forms (nothing here calls
:func:`mmot_models.solve`): 1D co-motion functions and SCE values, cheap bounds, densities, radial
reductions, atoms' sizes and potentials, dissociation models.  The studies that solve them are in
:mod:`mmot_models.studies` (:mod:`~mmot_models.studies.atoms`, :mod:`~mmot_models.studies.dissociation`)."""
