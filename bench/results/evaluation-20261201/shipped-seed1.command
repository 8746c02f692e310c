dotnet .local/eval-bin/HardPair.TrainerSidecar.dll evaluate --checkpoint models/bootstrap/v20261125T202913066Z-a9cd1db9 --attacks clean,apgd-ce+apgd-t3,autoattack --test-subset 1000 --seed 1
