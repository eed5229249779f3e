"""An example plugin: one scheme, registered when initcore loads the entry point."""

import initcore


@initcore.register("toy_scaled_he", "N(0, 2.5/fan_in)  (He x 1.25 in variance)",
                   claims=[initcore.accuracy("seed-recipe", min_acc=0.5)])
def scaled_he(weight, generator):
    weight.normal_(0.0, (2.5 / weight.shape[1]) ** 0.5, generator=generator)
