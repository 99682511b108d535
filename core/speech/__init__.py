"""Speech in: audio decoding, phones, espeak-ng, pocketsphinx decoders and the recognition of timed phones."""
