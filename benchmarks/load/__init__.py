"""Load benchmark: a stock `rasa init` bot and Coverline answering the same REST conversations (issue 14, item 7).

`make benchmark-load` (= `python -m benchmarks.load`) trains the stock bot once, starts both bots on
ports of their own, drives each with locust (one conversation alone, then 20 at once) and writes
benchmarks/results/load.json, load.md and load.png. `--profile` samples Coverline's Rasa server and
action server with py-spy under the same load and adds where the time goes.
"""
