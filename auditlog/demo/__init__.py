"""``make demo``: fabricated, realistic events (``data``), written through the real emitter
(``generator``), with the background processes of the demo stack (``stack``)."""
