"""The course's one helper package.

Import modules by namespace, never with ``*``::

    from utils import activations, gradcheck, testing

Modules
-------
activations  sigmoid, softmax, tanh and their derivatives
gradcheck    the course's one centred-difference gradient checker
testing      array comparisons whose failures say which value or shape is wrong
"""
