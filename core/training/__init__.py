"""Making and judging our models: training corpora, training commands, lip-sync metrics."""
