"""A searchable `DrNASCell` inside your own Keras model, functional and
subclassed, searched with `SearchModel` like any supernet.

    python examples/custom_cell_model.py

Each cell learns its own Dirichlet concentration (one per edge and op), so
it drops into any model; `SearchModel` alternates the architecture and
weight steps (paper section 2.2) and derives the cell from the Dirichlet
mean. The default runs 10 epochs on scikit-learn's 8x8 digits (half a
minute on a 2-core CPU). There is no paper setting for this example: the
paper searches whole supernets (see nb201_image_folder.py and
progressive_darts.py).

`--smoke` runs one epoch on 256 digits. Prints, for each model, the
derived cell and the learnt concentration of its first edge.
"""

import argparse

import keras

import keras_drnas as kd


def functional_model(num_classes, channels):
    """Conv stem, one NAS-Bench-201 cell, classifier: built with keras.Input."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = kd.layers.DrNASCell("nas-bench-201", channels=channels, seed=0, name="searched_cell")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x), name="functional_with_cell")


class SubclassedModel(keras.Model):
    """The same network as a subclassed model."""

    def __init__(self, num_classes, channels, **kwargs):
        super().__init__(**kwargs)
        self.stem = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)
        self.norm = keras.layers.BatchNormalization()
        self.cell = kd.layers.DrNASCell("nas-bench-201", channels=channels, seed=0)
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.classifier = keras.layers.Dense(num_classes)

    def call(self, x, training=None):
        x = self.norm(self.stem(x), training=training)
        return self.classifier(self.pool(self.cell(x, training=training)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="one epoch on 256 digits")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.channels = 1, 4

    keras.utils.set_random_seed(0)
    data = kd.data.digits_search_data()
    if args.smoke:
        data.train, data.validation = data.train.take(256), data.validation.take(256)
    pairs = kd.data.search_pairs(data.train, data.validation, batch_size=32, num_classes=10, seed=0)
    subclassed = SubclassedModel(10, args.channels, name="subclassed_with_cell")  # fit builds it
    for model in (functional_model(10, args.channels), subclassed):
        search = kd.SearchModel(model)
        # The reference code's NAS-Bench-201 learning rates: weights 0.025, concentrations 3e-4.
        search.compile(optimizer=keras.optimizers.SGD(0.025, momentum=0.9),
                       arch_optimizer=keras.optimizers.Adam(3e-4, beta_1=0.5), metrics=["accuracy"])
        history = search.fit(pairs, epochs=args.epochs, verbose=0)
        (name, beta), = search.concentrations().items()
        print(f"\n{model.name}: accuracy {history.history['accuracy'][-1]:.3f} after {args.epochs} epochs")
        print(f"  concentration of the first edge ({name}): " + " ".join(f"{b:.4f}" for b in beta[0]))
        print("  " + str(search.genotype()).replace("\n", "\n  "))


if __name__ == "__main__":
    main()
