import BasisPrune
