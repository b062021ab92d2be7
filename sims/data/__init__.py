"""The data sets: synthetic teachers, digits, MNIST, and their configs."""
