from torch import nn

from mnist_core.models import register_model


class LogisticRegression(nn.Module):
    """784 pixels → 10 digits: one linear layer, 7,850 parameters."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(28 * 28, 10)

    def forward(self, x):  # x: (N, 1, 28, 28), normalised as for every model here
        return self.linear(x.flatten(1))


register_model("logreg", "LogReg", LogisticRegression, first_layer="linear", first_activation="none",
               description="Logistic regression: one linear layer.")
