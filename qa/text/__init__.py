"""The text layer: words and stems, dates, numbers and names, normalisation, instructions aimed at an AI."""
