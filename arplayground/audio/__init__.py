"""Audio without Qt or torch: mu-law levels, WAV files in and out, and real-time playback."""
