"""slm_factory.embeddings: the bundled sentence encoder, offline, normalised, in input order."""

import numpy as np
import pytest

from slm_factory import embeddings


def test_bundled_model_encodes_offline_in_input_order():
    texts = ["set a timer for ten minutes", "what's the weather in Lima", "start a 10 minute timer", ""]
    emb = embeddings.encode(embeddings.BUNDLED, texts)
    assert emb.shape == (4, 384) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb[:3], axis=1), 1.0, atol=1e-5)  # cosine = dot product
    sims = emb[0] @ emb[1:3].T
    assert sims[1] > sims[0]  # the other timer request is nearer than the weather one
    again = embeddings.encode(embeddings.BUNDLED, texts[::-1])[::-1]  # order does not change a vector
    assert np.allclose(again, emb, atol=1e-5)
    assert embeddings.encode(embeddings.BUNDLED, []).shape == (0, 384)


def test_any_other_name_goes_to_sentence_transformers_unchanged():
    assert embeddings.resolve("/models/my-encoder") == "/models/my-encoder"
    assert embeddings.resolve(embeddings.BUNDLED).endswith("model")
    with pytest.raises(Exception):
        embeddings.load("/no/such/encoder")
