"""Guard integrations for training frameworks (optional extras; each module imports its library).

* :mod:`schedlint.integrations.lightning`: ``ScheduleGuard``, a Lightning ``Callback``
  (``pip install 'schedlint[lightning]'``);
* :mod:`schedlint.integrations.transformers`: ``ScheduleGuardCallback``, a Hugging Face
  ``TrainerCallback`` (``pip install 'schedlint[transformers]'``);
* :mod:`schedlint.integrations.plot`: ``plot_lrs``, each group's actual LR against its expected
  schedule (``pip install 'schedlint[plot]'``).

Nothing here is imported by ``import schedlint``.
"""
