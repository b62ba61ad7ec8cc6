"""Build the Keras model that a variant describes."""

from __future__ import annotations

import keras

from glassbox.params import Variant


def build_model(variant: Variant, n_features: int) -> keras.Sequential:
    """Return the dense network for ``variant``, not yet compiled.

    Each hidden layer is Dense (with the variant's activation and L1 penalty on its
    kernel), then batch normalization if enabled, then dropout if enabled: the order
    of the original experiment. Layers are named ``hidden1``, ``bn1``, ``dropout1`` ...
    and ``output``, and the interpretation code finds the weights by these names.
    Built-in regularizers only, so that the saved model loads without custom objects.
    """
    layers: list[keras.layers.Layer] = [keras.Input(shape=(n_features,), name="pixels")]
    for index, units in enumerate(variant.hidden, start=1):
        regularizer = keras.regularizers.L1(variant.l1) if variant.l1 > 0 else None
        layers.append(
            keras.layers.Dense(units, activation=variant.activation, kernel_regularizer=regularizer, name=f"hidden{index}")
        )
        if variant.batch_norm:
            layers.append(keras.layers.BatchNormalization(name=f"bn{index}"))
        if variant.dropout and variant.dropout[index - 1] > 0:
            layers.append(keras.layers.Dropout(variant.dropout[index - 1], name=f"dropout{index}"))
    if variant.task == "binary":
        layers.append(keras.layers.Dense(1, activation="sigmoid", name="output"))
    else:
        layers.append(keras.layers.Dense(10, activation="softmax", name="output"))
    return keras.Sequential(layers, name=variant.name)


def compile_model(model: keras.Model, variant: Variant, learning_rate: float, steps_per_execution: int) -> None:
    """Compile with Adam and the task's loss; ``steps_per_execution`` changes the speed, not the results."""
    if variant.task == "binary":
        loss = "binary_crossentropy"
        accuracy = keras.metrics.BinaryAccuracy(name="accuracy")
    else:
        loss = "sparse_categorical_crossentropy"
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=loss,
        metrics=[accuracy],
        steps_per_execution=steps_per_execution,
    )


def dense_layer_names(model: keras.Model) -> list[str]:
    """Return the Dense layers from input to output: hidden1, hidden2, ..., output."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)]
