"""The course's one helper package.

Import modules by namespace, never with ``*``::

    from utils import activations, gradcheck, testing

Modules
-------
activations  sigmoid, softmax, tanh and their derivatives
gradcheck    the course's one centred-difference gradient checker
testing      array comparisons whose failures say which value or shape is wrong
diagrams     drawings of RNN, LSTM and GRU cells (matplotlib, drawn by code)
rnn          assignment 1's functions (answer key: never shipped with assignment 1)
recurrent    fused RNN/LSTM/GRU layers: steps, sequences, bidirectional (kernels and buffer pool private)
layers       dense over time, Conv1D, batch norm, dropout, attention pieces (repeat, concat, softmax over time,
             weighted sum; the step they make is in nmt)
losses       sequence softmax cross-entropy, per-step binary cross-entropy
init, optim, io   initialisers; SGD and Adam with clipping; .npz save/load and parameter counts
char_model   the character-level RNN language model of dinosaur_island
music        MIDI corpus loading, tokens, training set, MIDI/WAV output, piano roll
dates        the date-translation data (pairs, vocabularies) and `python -m utils.dates "3rd of March 2001"`
nmt          date_translation's attention model, forward and backward (answer key: never shipped with it)
seq2seq      the parts date_translation provides: sizes, initialisation, the model's backward given an
             attention step's backward, attention heat maps
plots        loss curves and other small figures
trigger_model  assignment 5's detector (Conv1D + GRU), spectrogram, training examples, event scores
               (answer key: never shipped with trigger_word)
trigger      command line: python -m utils.trigger FILE.wav ... prints where "activate" is heard
"""
