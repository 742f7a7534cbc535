"""Physics around the transport problem: closed-form 1D co-motion functions and SCE values,
cheap bounds, radial reductions, atoms and dissociation."""
