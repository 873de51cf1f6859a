"""What leaves the simulator: per-op/module/layer/model summaries, op classes, provenance
and the atomic writes of every output file."""
