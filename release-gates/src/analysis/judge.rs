//! Not written yet (see the module list in `analysis`).
