"""The callbacks `SearchModel.fit` always adds."""

import keras


class ArchitectureWarmup(keras.callbacks.Callback):
    """Holds architecture updates off for the first epochs (unless a
    `ProgressiveLearning` callback manages a warm-up per stage)."""

    def __init__(self, warmup_epochs, managed):
        super().__init__()
        self.warmup_epochs = warmup_epochs
        self.managed = managed

    def on_epoch_begin(self, epoch, logs=None):
        if not self.managed:
            self.model.set_arch_enabled(epoch >= self.warmup_epochs)


class GenotypeHistory(keras.callbacks.Callback):
    """Records (and, when fit is verbose, prints) the genotype of every epoch
    in `SearchModel.genotype_history`."""

    def on_epoch_end(self, epoch, logs=None):
        try:
            genotype = self.model.genotype()
        except ValueError:  # a model whose architecture is no single genotype
            return
        self.model.genotype_history.append(genotype)
        if self.params.get("verbose"):
            print(f"epoch {epoch + 1} genotype: {genotype.to_string()}")
