"""Every measurement that is code: ``limner bench shapes|verifiers|search|overhead|throughput|startup``.

- ``shapes.py``: a generator's images scored by ShapesEval's rules (GenEval's, on the shapes world);
  ``agent_source.py`` makes those images with the whole agent under a policy.
- ``search.py`` + ``plot.py``: accuracy against NFE per search strategy and verifier.
- ``perf.py`` + ``timer.py``: where a run's time goes (``ComputeTimer`` hooks the denoiser, text encoders,
  VAE and verifiers), throughput against plain diffusers calls, start-up time.
"""
