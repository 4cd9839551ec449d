//! AWS API operation models: the protocol code lands with the model-driven executor.
