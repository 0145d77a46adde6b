"""Batch scoring: documents in, a ranked queue out.

``engine`` streams inputs through extraction and the model in chunks, checkpointing each chunk so that a
killed run resumes; ``duplicates`` groups copies and mirrors; ``priority`` orders the queue; ``drift``
compares the run's scores with the training distribution; ``rows`` is the output contract.
"""
