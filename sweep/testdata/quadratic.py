"""A small objective for sweep tests: a noisy quadratic reported per step.

Its optimum is x = 0.3, lr = 1e-2 (value 0); each step reports
f(x, lr) + 0.5/step + noise, so the curve falls towards f as steps go by.
Usage: quadratic.py X LR. STEPS and STEP_SECONDS set its length.
"""
import math
import os
import random
import sys
import time

import sluice

x = float(sys.argv[1])
lr = float(sys.argv[2])
steps = int(os.environ.get("STEPS", "18"))
pause = float(os.environ.get("STEP_SECONDS", "0.005"))
restarts = int(os.environ.get("SLUICE_RESTART_COUNT", "0"))
f = (x - 0.3) ** 2 + (math.log10(lr) + 2) ** 2 / 4
rng = random.Random("%r %r %d" % (x, lr, restarts))
print("trial %s of sweep %s: x=%s lr=%s restarts=%d" %
      (os.environ.get("SLUICE_TRIAL"), os.environ.get("SLUICE_SWEEP"), x, lr, restarts), flush=True)
for step in range(1, steps + 1):
    loss = f + 0.5 / step + rng.gauss(0, 0.01)
    if sluice.report(step=step, loss=loss, restarts=restarts).stop:
        print("stopped early at step %d" % step, flush=True)
        break
    time.sleep(pause)
