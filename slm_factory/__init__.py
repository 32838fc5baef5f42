"""slm_factory: the task-agnostic core of the dataset factory (row type, gates, dedupe, split,
teacher interface, model loading, metrics). Task specifics live in a specs/ folder."""

__version__ = "0.1.0"
